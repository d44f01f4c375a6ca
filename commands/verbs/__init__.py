"""One module per verb; importing this package registers them all."""

from commands.verbs import help as help
