/* `spaturzu`: the collector daemon and its command line. Dispatches to one
 * file per subcommand. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
	"Usage: spaturzu COMMAND [OPTIONS]\n"
	"\n"
	"Attribute every LLM call of unmodified programs to the agent and run that\n"
	"made it. Programs run with libspaturzu_shim.so preloaded; this command\n"
	"collects, stores and shows what they did.\n"
	"\n"
	"Commands:\n"
	"  run         run a command under the shim as one run; print its cost\n"
	"  report      spend per agent (or model, provider, run, tag), 7 and 30 days\n"
	"  trace       one run's calls as a tree of agents\n"
	"  budgets     budgets, their spend this period, and their state\n"
	"  collector   receive, price, store and forward call records (the daemon)\n"
	"  calls       list stored calls\n"
	"  status      the collector's health, backlog, delivery errors, unpriced models\n"
	"\n"
	"`spaturzu COMMAND --help` describes each command.\n"
	"\n"
	"Environment:\n"
	"  SPATURZU_SOCKET   the collector's socket\n"
	"  SPATURZU_DB       the database\n"
	"  SPATURZU_SPOOL    where shims leave records when no collector listens\n"
	"  SPATURZU_API_KEY  the gateway key; the collector forwards records when set\n"
	"  SPATURZU_BASE_URL the gateway (default https://spaturzu-api.superchiu.org)\n"
	"  SPATURZU_PRICING  a price override file (default ~/.config/spaturzu/pricing.json)\n";

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	if (strcmp(cmd, "--version") == 0) {
		puts("spaturzu " SPZ_VERSION);
		return 0;
	}
	if (strcmp(cmd, "collector") == 0)
		return cmd_collector(argc - 1, argv + 1);
	if (strcmp(cmd, "calls") == 0)
		return cmd_calls(argc - 1, argv + 1);
	if (strcmp(cmd, "status") == 0)
		return cmd_status(argc - 1, argv + 1);
	if (strcmp(cmd, "report") == 0)
		return cmd_report(argc - 1, argv + 1);
	if (strcmp(cmd, "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(cmd, "trace") == 0)
		return cmd_trace(argc - 1, argv + 1);
	if (strcmp(cmd, "budgets") == 0)
		return cmd_budgets(argc - 1, argv + 1);
	fprintf(stderr, "spaturzu: unknown command '%s'\n\n%s", cmd, usage);
	return EXIT_USAGE;
}
