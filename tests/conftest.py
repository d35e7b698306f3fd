pytest_plugins = [
    "tests.fixtures.database",
    "tests.fixtures.server",
    "tests.fixtures.app",
    "tests.fixtures.browser",
    "tests.fixtures.runtime",
    "tests.fixtures.log_scan",
]
