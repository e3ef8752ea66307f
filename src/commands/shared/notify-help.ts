/**
 * The `--notify-command <cmd>` option's description, shared by every command that takes it (issue 18). Its
 * own tiny module so that registering the option loads nothing of the notifier at start.
 */
export const NOTIFY_COMMAND_HELP =
  'run this through /bin/sh -c once per connection state change, one JSON event on stdin (default: $BOX_QC_NOTIFY_COMMAND)';
