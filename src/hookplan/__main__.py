from hookplan.cli import main

main()
