//! Who is on call, as the core knows it: static rotations and PagerDuty's rosters. Sources
//! produce these (`sources::rotations` reads the file, `sources::pagerduty` asks PagerDuty);
//! answers only read them.

pub mod pagerduty;
pub mod rotations;
