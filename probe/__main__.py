from probe.run import main

main()
