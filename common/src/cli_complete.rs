//! Function-name completion for `brine` (issue 18): `brine '*' sta<TAB>`
//! offers `state.apply`, `state.highstate`, ... as Salt's completion does.
//!
//! clap_complete's scripts are static: they know the options but nothing a
//! master knows. So the scripts [`crate::cli_docs`] generates for `brine`
//! get a small per-shell addition here that, when the word being completed
//! is the second positional (the FUNCTION, after the TARGET), runs
//! `brine [-c DIR] --complete-functions PREFIX` and offers its lines. That
//! hidden flag (brine-client's `complete` module) answers from a cache of
//! the minions' `sys.list_functions` in the master's cachedir. Everything
//! else stays clap's: the bash wrapper delegates to clap's `_brine`, zsh's
//! FUNCTION spec names a function instead of `_default`, fish gets one more
//! `complete` line. The other binaries' scripts are left as clap made them.

use clap_complete::Shell;

/// The hidden flag that prints the cached function names starting with a
/// prefix (read before clap parses, like the documentation flags).
pub const COMPLETE_FUNCTIONS: &str = "--complete-functions";

/// The one binary whose FUNCTION positional runs on the master's minions.
/// (`brine-call`'s runs on the local minion, whose functions the master's
/// cache does not describe, so its script is left alone.)
pub const FUNCTION_COMPLETING_BINARY: &str = "brine";

/// `script`, clap's completion script of `cmd` for `shell`, with function
/// completion added when `cmd` is `brine`; any other script unchanged.
pub fn with_function_completion(cmd: &clap::Command, shell: Shell, script: String) -> String {
    if cmd.get_name() != FUNCTION_COMPLETING_BINARY {
        return script;
    }
    let value_options = value_options(cmd);
    match shell {
        Shell::Bash => bash(script, &value_options),
        Shell::Zsh => zsh(script),
        Shell::Fish => fish(script, &value_options),
        _ => script,
    }
}

/// Every spelling (`-c`, `--config-dir`, aliases) of the options of `cmd`
/// that take a value: the scripts skip the word after one when counting
/// positionals, so `brine -t 5 '*' sta` still completes `sta`.
pub fn value_options(cmd: &clap::Command) -> Vec<String> {
    let mut names = Vec::new();
    for arg in cmd.get_arguments() {
        if arg.is_positional() || !arg.get_action().takes_values() {
            continue;
        }
        let shorts = arg
            .get_short()
            .into_iter()
            .chain(arg.get_all_short_aliases().unwrap_or_default());
        names.extend(shorts.map(|c| format!("-{c}")));
        let longs = arg
            .get_long()
            .into_iter()
            .chain(arg.get_all_aliases().unwrap_or_default());
        names.extend(longs.map(|l| format!("--{l}")));
    }
    names
}

/// clap's `complete -F _brine` is pointed at a wrapper that answers the
/// FUNCTION word itself and hands every other word to `_brine`.
fn bash(script: String, value_options: &[String]) -> String {
    let script = script.replace("complete -F _brine ", "complete -F _brine_with_functions ");
    let wrapper = BASH_WRAPPER
        .replace("@VALUE_OPTIONS@", &value_options.join("|"))
        .replace("@FLAG@", COMPLETE_FUNCTIONS);
    // Defined before the `complete` lines that name the wrapper.
    match script.find("if [[ \"${BASH_VERSINFO[0]}\" -eq 4") {
        Some(at) => format!("{}{wrapper}\n{}", &script[..at], &script[at..]),
        None => format!("{script}\n{wrapper}"),
    }
}

const BASH_WRAPPER: &str = r#"# FUNCTION (the second word that is not an option) is completed from
# `brine --complete-functions`, which reads the master's cache of the
# minions' sys.list_functions; -c/--config-dir on the line is passed on.
# Sets _brine_cfg (the caller's local) and succeeds when COMP_CWORD is it.
_brine_function_word() {
    local i w opt= n=0 value=0 join=0
    for (( i = 1; i < COMP_CWORD; i++ )); do
        w="${COMP_WORDS[i]}"
        # bash splits 'os:Debian' and '--out=json' at : and =; the pieces
        # after one continue the word before it.
        if [[ "$w" == "=" || "$w" == ":" ]]; then
            join=1
            continue
        fi
        if (( join )); then
            join=0
            if (( ! value )); then
                continue
            fi
        fi
        if (( value )); then
            value=0
            case "$opt" in
                -c|--config-dir) _brine_cfg=(-c "${w/#\~/$HOME}") ;;
            esac
            continue
        fi
        case "$w" in
            --config-dir=*) w="${w#*=}"; _brine_cfg=(-c "${w/#\~/$HOME}") ;;
            @VALUE_OPTIONS@) value=1; opt="$w" ;;
            -*) ;;
            *) n=$(( n + 1 )) ;;
        esac
    done
    (( n == 1 && ! value && ! join ))
}

_brine_with_functions() {
    local cur="${COMP_WORDS[COMP_CWORD]}"
    local -a _brine_cfg=()
    if [[ "$cur" != -* ]] && _brine_function_word; then
        local brine="${COMP_WORDS[0]/#\~/$HOME}"
        COMPREPLY=( $(compgen -W "$("$brine" "${_brine_cfg[@]}" @FLAG@ "$cur" 2>/dev/null)" -- "$cur") )
        # No file names when no function matches.
        compopt +o default +o bashdefault 2>/dev/null
        return 0
    fi
    _brine "$@"
}
"#;

/// clap's FUNCTION spec (`':function -- ...:_default'`) names
/// `_brine_functions` instead, defined before the script's last lines call
/// or register `_brine`.
fn zsh(script: String) -> String {
    let mut out = String::with_capacity(script.len() + ZSH_FUNCTIONS.len());
    let mut defined = false;
    for line in script.split_inclusive('\n') {
        if !defined && line.starts_with("if [ \"$funcstack[1]\" = \"_brine\" ]") {
            out.push_str(&ZSH_FUNCTIONS.replace("@FLAG@", COMPLETE_FUNCTIONS));
            out.push('\n');
            defined = true;
        }
        if line.starts_with("':function -- ") || line.starts_with("':function:") {
            out.push_str(&line.replacen(":_default'", ":_brine_functions'", 1));
        } else {
            out.push_str(line);
        }
    }
    if !defined {
        out.push_str(&ZSH_FUNCTIONS.replace("@FLAG@", COMPLETE_FUNCTIONS));
    }
    out
}

const ZSH_FUNCTIONS: &str = r#"# FUNCTION is completed from `brine --complete-functions`, which reads the
# master's cache of the minions' sys.list_functions; -c/--config-dir on the
# line is passed on.
(( $+functions[_brine_functions] )) ||
_brine_functions() {
    local -a cfg funs
    local i brine
    for (( i = 2; i < CURRENT; i++ )); do
        case "${words[i]}" in
            -c|--config-dir) cfg=(-c "${${(Q)words[i+1]}/#\~/$HOME}") ;;
            --config-dir=*) cfg=(-c "${${(Q)words[i]#--config-dir=}/#\~/$HOME}") ;;
        esac
    done
    brine="${${(Q)words[1]}/#\~/$HOME}"
    funs=(${(f)"$("$brine" "${cfg[@]}" @FLAG@ "$PREFIX" 2>/dev/null)"})
    compadd -a funs
}
"#;

/// One more `complete` line, for the word that is FUNCTION.
fn fish(script: String, value_options: &[String]) -> String {
    let functions = FISH_FUNCTIONS
        .replace("@VALUE_OPTIONS@", &value_options.join(" "))
        .replace("@FLAG@", COMPLETE_FUNCTIONS);
    format!("{script}\n{functions}")
}

const FISH_FUNCTIONS: &str = r#"# FUNCTION (the second word that is not an option) is completed from
# `brine --complete-functions`, which reads the master's cache of the
# minions' sys.list_functions; -c/--config-dir on the line is passed on.
function __brine_function_word
    set -l words (commandline -opc)
    set -e words[1]
    set -l n 0
    set -l value 0
    for w in $words
        if test $value -eq 1
            set value 0
            continue
        end
        switch $w
            case @VALUE_OPTIONS@
                set value 1
            case '-*'
            case '*'
                set n (math $n + 1)
        end
    end
    test $value -eq 0 -a $n -eq 1
end

function __brine_functions
    set -l words (commandline -opc)
    set -l cfg
    for i in (seq 2 (count $words))
        switch $words[$i]
            case -c --config-dir
                if test $i -lt (count $words)
                    set cfg -c $words[(math $i + 1)]
                end
            case '--config-dir=*'
                set cfg -c (string replace -- --config-dir= '' $words[$i])
        end
    end
    $words[1] $cfg @FLAG@ (commandline -ct) 2>/dev/null
end

complete -c brine -n __brine_function_word -f -a '(__brine_functions)'
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn brine_like() -> clap::Command {
        clap::Command::new("brine")
            .arg(clap::Arg::new("config_dir").short('c').long("config-dir"))
            .arg(
                clap::Arg::new("state_output")
                    .long("state-output")
                    .alias("state_output"),
            )
            .arg(
                clap::Arg::new("static")
                    .long("static")
                    .action(clap::ArgAction::SetTrue),
            )
            .arg(
                clap::Arg::new("target")
                    .required(true)
                    .help("Which minions"),
            )
            .arg(
                clap::Arg::new("function")
                    .required(true)
                    .help("The function"),
            )
    }

    fn script(cmd: clap::Command, shell: Shell) -> String {
        let mut cmd = cmd;
        let mut out = Vec::new();
        let name = cmd.get_name().to_string();
        clap_complete::generate(shell, &mut cmd, name, &mut out);
        let script = String::from_utf8(out).expect("utf-8");
        with_function_completion(&cmd, shell, script)
    }

    #[test]
    fn only_options_with_a_value_are_listed_with_every_spelling() {
        let names = value_options(&brine_like());
        assert_eq!(
            names,
            ["-c", "--config-dir", "--state-output", "--state_output"]
        );
    }

    #[test]
    fn bash_registers_the_wrapper_defined_before_it() {
        let bash = script(brine_like(), Shell::Bash);
        let defined = bash.find("_brine_with_functions() {").expect("wrapper");
        let registered = bash
            .find("complete -F _brine_with_functions")
            .expect("registered");
        assert!(defined < registered, "{bash}");
        assert!(!bash.contains("complete -F _brine -o"), "{bash}");
        assert!(bash.contains("-c|--config-dir|--state-output|--state_output) value=1"));
        assert!(bash.contains("--complete-functions \"$cur\""), "{bash}");
    }

    #[test]
    fn zsh_completes_the_function_spec_only() {
        let zsh = script(brine_like(), Shell::Zsh);
        assert!(
            zsh.contains("':function -- The function:_brine_functions'"),
            "{zsh}"
        );
        assert!(zsh.contains("':target -- Which minions:_default'"), "{zsh}");
        let defined = zsh.find("_brine_functions() {").expect("defined");
        let called = zsh.find("if [ \"$funcstack[1]\"").expect("call");
        assert!(defined < called, "{zsh}");
    }

    #[test]
    fn fish_adds_a_conditional_completion() {
        let fish = script(brine_like(), Shell::Fish);
        assert!(fish.contains("case -c --config-dir --state-output --state_output\n"));
        assert!(
            fish.contains("complete -c brine -n __brine_function_word -f -a '(__brine_functions)'")
        );
    }

    #[test]
    fn other_binaries_keep_claps_script() {
        let other = brine_like().name("brine-call");
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let mut cmd = other.clone();
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut cmd, "brine-call", &mut out);
            let plain = String::from_utf8(out).expect("utf-8");
            assert_eq!(script(other.clone(), shell), plain);
        }
    }
}
