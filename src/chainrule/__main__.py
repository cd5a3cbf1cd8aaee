from chainrule.cli import main

main()
