"""The web pages served by the app: the user app, the vending-machine screen with the platform's
capture page, and the operator console. Plain HTML, CSS and ES modules; no front-end build."""
