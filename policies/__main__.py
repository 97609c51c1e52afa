"""The pulumi-flow policy pack: `pulumi preview --policy-pack <this directory>`.

Only assembly happens here; each policy lives, with its tests, in pulumi_flow_policies.
"""

from pulumi_flow_policies.pack import serve

serve()
