//! Issue 16: per-phone parameter memory with shared defaults and
//! per-phone deltas. 200 stores of CP-8851-3PCC phones each apply the
//! full FusionPBX-style profile of the profile corpus (about 800
//! parameters: an 8851 has 5 lines)
//! (with per-phone user names and passwords); the heap they hold, counted
//! by a counting global allocator, must stay under 20 KB per phone (the
//! budget of a 100 000-phone fleet; the cost per phone does not depend on
//! the fleet size, defaults being shared).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use phoneprov_phone::ParamStore;
use phoneprov_profile::FlatProfile;

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static A: Counting = Counting;

#[test]
fn per_phone_memory_stays_under_20_kb() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../profile/tests/corpus/fusionpbx-style-8851.xml"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let n = 200;
    let profiles: Vec<FlatProfile> = (0..n)
        .map(|i| FlatProfile::parse(&text.replace("line-pw-", &format!("pw-{i}-"))).unwrap())
        .collect();
    assert!(profiles[0].params().len() > 700);
    // Touch the schema once so its shared tables are not counted per phone.
    let _ = ParamStore::for_model("CP-8851-3PCC").get("Line_Enable_1_");
    let before = LIVE.load(Ordering::Relaxed);
    let stores: Vec<ParamStore> = profiles
        .iter()
        .map(|p| {
            let mut s = ParamStore::for_model("CP-8851-3PCC");
            let a = s.apply_report(p);
            assert!(a.ignored.is_empty() && a.rejected.is_empty(), "{a:?}");
            s
        })
        .collect();
    let after = LIVE.load(Ordering::Relaxed);
    let per_phone = (after - before) as usize / n;
    let entries = stores[0].iter().count();
    println!("per-phone parameter store: {per_phone} bytes, {entries} explicit entries of {} in the profile", profiles[0].params().len());
    assert_eq!(stores[7].get("Password_1_"), Some("pw-7-1"));
    assert_eq!(stores[7].get("Line_Enable_3_"), Some("No"));
    assert!(per_phone < 20 * 1024, "{per_phone} bytes per phone");
}
