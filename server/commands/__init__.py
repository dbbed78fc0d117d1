"""The command tier (docs/COMMANDS.md): a joystick base policy driven by a timed schedule of commands."""
