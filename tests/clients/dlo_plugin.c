/* A plugin that dlo_loader finds by its bare name through its own
 * DT_RUNPATH ($ORIGIN), and nowhere else. */
int spz_dlo_plugin_answer(void);
int spz_dlo_plugin_answer(void)
{
	return 42;
}
