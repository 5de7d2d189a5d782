// Placeholder, being written.
#ifndef EPROP_CLIENT_LIB_ENVIRONMENT_CLIENT_H_
#define EPROP_CLIENT_LIB_ENVIRONMENT_CLIENT_H_
#endif
