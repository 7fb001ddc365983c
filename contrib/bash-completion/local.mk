bashcompletion_DATA = contrib/bash-completion/luoemu
EXTRA_DIST += contrib/bash-completion/luoemu
