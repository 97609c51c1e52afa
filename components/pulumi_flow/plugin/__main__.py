from pulumi_flow.plugin.provider import main

main()
