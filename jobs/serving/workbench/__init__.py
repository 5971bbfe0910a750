"""The quality officers' workbench: findings, their status and the departments' answers,
read from the lake for the web application and the report."""
