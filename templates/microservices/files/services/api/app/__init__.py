"""The api service of {{project_name}}."""
