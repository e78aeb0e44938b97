"""Notifications: delivering the orders context's customer notices by e-mail, SMS and push,
each re-checked against the truth right before it goes out."""
