"""The `/ts` command language: words read into typed commands, run, answered as Block Kit.

Importing the package registers every verb (`commands.verbs`), so `commands.registry.dispatch`
knows them all whichever transport imports it first.
"""

import commands.verbs  # noqa: F401  (each verb module registers itself with the registry)
