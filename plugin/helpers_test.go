package plugin

import "os"

var osGetwd = os.Getwd
