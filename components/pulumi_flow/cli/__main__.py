"""`python -m pulumi_flow.cli`: the same as the `pulumi-flow` command."""

import sys

from pulumi_flow.cli import main

sys.exit(main())
