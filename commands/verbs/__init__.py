"""One module per verb; importing this package registers them all."""

from commands.verbs import help as help
from commands.verbs import shifts as shifts
from commands.verbs import who as who
