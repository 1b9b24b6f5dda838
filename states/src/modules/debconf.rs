//! Salt's `debconf` states. None is implemented: the module only declares
//! Salt's `__virtual__` condition, so where the `debconf` execution module
//! is missing a `debconf.set` fails with Salt's reason ("'debconf'
//! __virtual__ returned False: debconf module could not be loaded")
//! instead of "'debconf.set' is not available.".

use crate::lowstate::StateModules;

pub fn register(m: &mut StateModules) {
    m.require_function(
        "debconf",
        "debconf.show",
        "debconf module could not be loaded",
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::mock::MockHost;

    #[test]
    fn a_module_whose_execution_module_is_missing_gives_salts_virtual_reason() {
        let host = MockHost::new(|f, _, _| Err(format!("unexpected {f}")));
        let mut m = StateModules::default();
        register(&mut m);
        // The mock host has every function but `missing.*` ones.
        assert_eq!(
            m.unavailable("debconf.set", &host).as_deref(),
            Some("'debconf.set' is not available.")
        );
        m.require_function(
            "debconf",
            "missing.show",
            "debconf module could not be loaded",
        );
        assert_eq!(
            m.unavailable("debconf.set", &host).as_deref(),
            Some("'debconf' __virtual__ returned False: debconf module could not be loaded")
        );
        let full = crate::modules::registry();
        assert_eq!(full.unavailable("cron.present", &host), None);
    }
}
