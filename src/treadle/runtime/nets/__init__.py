"""Flows and nets, run by the engine like durable functions.

program        Program: a net, each transition's behaviour, the steps and guards it binds
interpreter    the workflow body that plays the token game through the context
registration   tr.workflow for a tr.Flow or tr.Net (and functions), refusing unsound ones
client         a running net case: its current net and marking, and changes to it
"""

from __future__ import annotations
