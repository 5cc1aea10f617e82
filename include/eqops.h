/*
 * eqops.h - umbrella header for libeqops.
 *
 * Include this one header to use the whole library; each module header can also be included
 * on its own.
 */
#ifndef EQOPS_H
#define EQOPS_H

#include "eqops/common.h"
#include "eqops/aws.h"
#include "eqops/k8s.h"
#include "eqops/pg.h"
#include "eqops/slo.h"
#include "eqops/tenant.h"

#endif /* EQOPS_H */
