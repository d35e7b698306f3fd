"""The dashboard's registry page shows what `GET /api/v1/registry` serves, as text."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.fixtures.browser import sign_in, wait_until_ready
from tests.fixtures.server import Server

PAYLOAD = '<img src="/nope" onerror="window.__xss=1"><b id="injected">bold</b>'


def test_the_registry_page_lists_companies_signatories_and_people_as_text(
    page: Page, dashboard_server: Server
) -> None:
    # The operator's file may hold anything in free text: it reaches the page as text.
    registry = dashboard_server.fleet_dir / "registry.toml"
    text = registry.read_text()
    address = 'domicilium_address = "2 Fibre Park, Lynnwood Road, Pretoria, 0081"'
    assert text.count(address) == 1
    registry.write_text(text.replace(address, f"domicilium_address = '{PAYLOAD}'"))
    dashboard_server.stop()
    dashboard_server.start()

    sign_in(page, dashboard_server.operator_token)
    wait_until_ready(page)
    page.locator('nav a[data-view="registry"]').click()
    wait_until_ready(page)
    expect(page.locator('nav a[data-view="registry"]')).to_have_attribute("aria-current", "page")

    velocity = page.locator('[data-company="velocity-fibre"]')
    expect(velocity).to_contain_text("Velocity Fibre (Pty) Ltd (trading as Velocity Fibre)")
    expect(velocity).to_contain_text("Registration number2019/407215/07")
    expect(velocity).to_contain_text("VAT number4620197384")
    expect(velocity).to_contain_text("Bank account (reference)fnb-velocity-operating")
    expect(velocity).to_contain_text(f"Domicilium{PAYLOAD}")
    expect(velocity.locator('[data-signatory="lindiwe-dlamini"]')).to_contain_text(
        "Lindiwe Precious Dlamini (lindiwe-dlamini)Director, duly authorised"
    )
    expect(page.locator('[data-company="mokoena-splicing"] [data-signatory]')).to_contain_text(
        "Member"
    )
    alex = page.locator('[data-person="alex-specter"]')
    expect(alex).to_contain_text("Alexander James Specter")
    expect(alex).to_contain_text("8504125123086")  # the operator sees ID numbers in full
    expect(alex).to_contain_text("Velocity Fibre (Pty) Ltd, director, signs as Director")
    assert page.locator("#injected").count() == 0
    assert page.evaluate("window.__xss") is None


def test_an_empty_registry_says_where_the_file_goes(page: Page, dashboard_server: Server) -> None:
    (dashboard_server.fleet_dir / "registry.toml").unlink()
    dashboard_server.stop()
    dashboard_server.start()
    sign_in(page, dashboard_server.operator_token)
    wait_until_ready(page)
    page.goto("/#/registry")
    wait_until_ready(page)
    expect(page.locator("[data-registry-empty]")).to_contain_text(
        "there is no registry.toml beside the fleet file"
    )
