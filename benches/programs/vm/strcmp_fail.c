/* strcmp_fail: two 1 MiB strings that differ 256 KiB in. See strcmp.h. */
#include "strcmp.h"
