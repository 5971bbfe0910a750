"""Who may use the served surfaces: the users file, SCRAM verifiers and the login audit, shared
by the SQL server and the workbench."""
