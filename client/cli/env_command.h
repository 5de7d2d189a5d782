// Placeholder, being written.
#ifndef EPROP_CLIENT_CLI_ENV_COMMAND_H_
#define EPROP_CLIENT_CLI_ENV_COMMAND_H_
#endif
