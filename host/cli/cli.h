/* cli.h: subcommands of the g3vk CLI. Each takes argv with argv[0] = the command
 * name and returns the process exit status (0 ok, 1 error, 2 usage). */
#ifndef G3_CLI_H
#define G3_CLI_H

int g3_cli_info(int argc, char **argv);
int g3_cli_devices(int argc, char **argv);
int g3_cli_synth(int argc, char **argv);
int g3_cli_logits(int argc, char **argv);
int g3_cli_run(int argc, char **argv);
int g3_cli_chat(int argc, char **argv);
int g3_cli_diff(int argc, char **argv);
int g3_cli_tokenize(int argc, char **argv);
int g3_cli_detokenize(int argc, char **argv);
int g3_cli_bench(int argc, char **argv);

#endif /* G3_CLI_H */
