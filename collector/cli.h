/* The subcommands of `spaturzu`, one file each. */
#ifndef SPZ_CLI_H
#define SPZ_CLI_H

int cmd_collector(int argc, char **argv);
int cmd_calls(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_trace(int argc, char **argv);
int cmd_budgets(int argc, char **argv);

/* Exit codes shared by the subcommands. */
#define EXIT_USAGE 2

#endif
