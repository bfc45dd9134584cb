"""The relay's logic, one package per domain (accounts, recorders, grants, invitations, tickets,
tunnel routing, audit, console), with storage behind ports.

Modules import each other relatively: deployed, Chalice puts `chalicelib/` at the Lambda root;
in tests and in the local relay host it is `cloud.chalicelib`.
"""
