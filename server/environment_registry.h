// Placeholder, being written.
#ifndef EPROP_SERVER_ENVIRONMENT_REGISTRY_H_
#define EPROP_SERVER_ENVIRONMENT_REGISTRY_H_
#endif
