"""One module per verb; importing this package registers them all."""

from commands.verbs import ack as ack
from commands.verbs import audit as audit
from commands.verbs import away as away
from commands.verbs import case as case
from commands.verbs import emergency as emergency
from commands.verbs import escalate as escalate
from commands.verbs import exposure as exposure
from commands.verbs import handoff as handoff
from commands.verbs import help as help
from commands.verbs import hours as hours
from commands.verbs import ical as ical
from commands.verbs import policy as policy
from commands.verbs import refer as refer
from commands.verbs import report as report
from commands.verbs import rota as rota
from commands.verbs import shifts as shifts
from commands.verbs import swap as swap
from commands.verbs import who as who
