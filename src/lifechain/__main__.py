from lifechain.cli import main

main()
