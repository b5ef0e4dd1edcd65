/*
 * wdmsim_test.h - the project's suites include <wdmsim/test.h>, the installed header; this name
 * stays for suites written before it was installed (branches in flight include it).
 */
#ifndef WDMSIM_TEST_SUPPORT_H
#define WDMSIM_TEST_SUPPORT_H

#include <wdmsim/test.h>

#endif /* WDMSIM_TEST_SUPPORT_H */
