//! End to end, as root: the real clients (sshd, login, su, passwd) and a real graphical greeter,
//! each in private mount namespaces over a private copy of /etc/pam.d (see harness.rs).

#[macro_use]
#[path = "../support/mod.rs"]
mod support;

mod harness;
mod keyring;
mod keyring_module;
mod lightdm;

/// OpenSSH (keyboard-interactive, password), /bin/login and su on a pty.
mod clients;
/// LightDM with lightdm-gtk-greeter on Xvfb; Debian's gdm-password and sddm services.
mod greeter;
