/* strcmp_full: two equal 1 MiB strings; the loop runs to the NUL. See strcmp.h. */
#include "strcmp.h"
