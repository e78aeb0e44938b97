from channelhub.cli import main

main()
