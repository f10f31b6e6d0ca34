#ifndef DEVHOST_CLIBGIT2_SHIM_H
#define DEVHOST_CLIBGIT2_SHIM_H
#include <git2.h>
#endif
