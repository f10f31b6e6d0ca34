"""The backend service of {{project_name}}."""
