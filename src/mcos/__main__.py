from mcos.cli import main

main()
