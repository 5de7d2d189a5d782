// Placeholder, being written.
#ifndef EPROP_SERVER_ENVIRONMENT_SERVICE_H_
#define EPROP_SERVER_ENVIRONMENT_SERVICE_H_
#endif
