# bash completion for vpncheck and vpncheck-reflector               -*- shell-script -*-
# Installed as .../bash-completion/completions/vpncheck and .../vpncheck-reflector.

_vpncheck_protocols() {
    # The registry is the source of truth: ask the binary.
    "${1:-vpncheck}" --list-probes 2>/dev/null | awk 'NF && $1 ~ /^[a-z0-9_-]+$/ {print $1}'
}

_vpncheck() {
    local cur prev words cword
    _init_completion -n = || return

    case $prev in
        --reflector | -r)
            _known_hosts_real -- "$cur"
            return
            ;;
        --protocols | -p | --require)
            local IFS=$' \t\n' protos prefix=""
            protos=$(_vpncheck_protocols "${words[0]}")
            [[ $cur == *,* ]] && prefix=${cur%,*},
            COMPREPLY=($(compgen -P "$prefix" -W "$protos" -- "${cur##*,}"))
            return
            ;;
        --json)
            _filedir json
            return
            ;;
        --junit)
            _filedir xml
            return
            ;;
        --markdown)
            _filedir md
            return
            ;;
        --html)
            _filedir html
            return
            ;;
        --reflector-ca)
            _filedir
            return
            ;;
        --auth-key | --reflector-pin)
            return
            ;;
        --timeout | -t | --nat-lifetime-max | --nat-lifetime-gaps)
            return
            ;;
    esac

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W '--reflector -r --protocols -p --timeout -t --json --junit
            --markdown --html --redact --auth-key --control-tls --reflector-ca --reflector-pin -4 -6 --require --verbose -v --no-color --list-probes
            --nat-lifetime --nat-lifetime-max --nat-lifetime-gaps --no-gateway-query --hairpin --version --help -h' -- "$cur"))
    fi
} && complete -F _vpncheck vpncheck

_vpncheck_reflector() {
    local cur prev words cword
    _init_completion -n = || return

    case $prev in
        --log-level)
            COMPREPLY=($(compgen -W 'debug info warn error' -- "$cur"))
            return
            ;;
        --listen | --alt-address)
            _ip_addresses
            return
            ;;
        --tls-certificate | --tls-key)
            _filedir
            return
            ;;
        --user)
            COMPREPLY=($(compgen -u -- "$cur"))
            return
            ;;
        --control-port | --web-control-ports | --udp-ports | --tcp-ports | --session-ttl | \
            --max-sessions | --max-observations | --max-observation-bytes | --max-total-observation-bytes | --max-connections | --rate-limit | --auth-key | --nat-ports)
            return
            ;;
    esac

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W '--listen --control-port --web-control-ports --udp-ports
            --tcp-ports --nat-ports --alt-address --session-ttl --max-sessions --max-observations --max-observation-bytes --max-total-observation-bytes --max-connections --rate-limit
            --auth-key --auth-key-file --tls-certificate --tls-key --control-tls-only --user --log-level --version --help -h' -- "$cur"))
    fi
} && complete -F _vpncheck_reflector vpncheck-reflector
