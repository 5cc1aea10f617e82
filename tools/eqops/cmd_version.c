/*
 * eqops version - the tool's and the library's versions.
 */
#include "cli.h"

#include <stdio.h>

int cmd_version(cli *c, int argc, char **argv)
{
    bool help = false;
    const cli_flag flags[] = {{"help", 'h', CLI_FLAG_BOOL, &help, "show this help"}, {0}};
    const char *pos[1];
    int npos = 0;
    int rc = cli_parse(c, "version", flags, argc, argv, pos, 0, &npos);
    if (rc != CLI_OK)
        return rc;
    if (help) {
        printf("Usage: eqops version [-o json]\n\nPrint the versions of eqops and of the "
               "libeqops library it runs on.\n\nFlags:\n");
        cli_print_flags(flags);
        return CLI_OK;
    }
    if (c->output == CLI_JSON)
        return cli_print_json(c, json_pack("{s:s, s:s, s:i}", "eqops", EQOPS_VERSION_STRING,
                                           "libeqops", eqops_version(), "libeqops_number",
                                           (int)eqops_version_number()));
    printf("eqops %s (libeqops %s)\n", EQOPS_VERSION_STRING, eqops_version());
    return CLI_OK;
}
