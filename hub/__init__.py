"""Early Help Hub: the secure broker between the agencies around a child."""
