/*
 * lib/aws/aws_seam.h - what the modules above lib/aws (tenant) use besides the public API:
 * answers as documents, and a client's token swapped for the length of a run.
 */
#ifndef EQOPS_AWS_SEAM_H
#define EQOPS_AWS_SEAM_H

#include <jansson.h>

#include "eqops/aws.h"

/* DescribeSecret's answer (`*out` new). 0, EQOPS_ENOTFOUND, EQOPS_EINVAL (secret_id), or the
 * request's error. eqops_aws_secret_describe is this as text. */
int eqops__aws_secret_describe_doc(json_t **out, eqops_aws *aws, const char *secret_id,
                                   eqops_error *err);

/* Swap the client's cancellation token (borrowed; NULL: none) for every request and retry wait
 * from now on; returns the one it had. The client is used by one thread at a time. */
const eqops_cancel *eqops__aws_set_cancel(eqops_aws *aws, const eqops_cancel *cancel);

#endif
