//! Every process of a service, read from `/proc`: its process group, and the descendants that
//! left the group (a worker that started a session of its own is out of `killpg`'s reach, and
//! once its parent dies it is re-parented, out of the tree too). Read them before signalling
//! anything, and stop each by pid.

use std::collections::BTreeMap;

/// One process, as `/proc/PID/stat` tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Member {
    /// Its pid.
    pub pid: i32,
    /// Its start time (clock ticks since boot): a pid reused by another process has another.
    pub start: u64,
    /// Its process group.
    pub group: i32,
}

/// The fields of `/proc/PID/stat` needed here: pid, state, parent, group and start time.
fn parse_stat(stat: &str) -> Option<(i32, char, i32, i32, u64)> {
    // The command name is in parentheses and may itself hold spaces or parentheses.
    let (head, rest) = stat.rsplit_once(") ")?;
    let pid = head.split_once(" (")?.0.trim().parse().ok()?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state(3) ppid(4) pgrp(5) ... starttime(22), numbered from 1.
    let state = fields.first()?.chars().next()?;
    let ppid = fields.get(1)?.parse().ok()?;
    let pgrp = fields.get(2)?.parse().ok()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((pid, state, ppid, pgrp, start))
}

fn read_stat(pid: i32) -> Option<(i32, char, i32, i32, u64)> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// The members of the group led by `leader`, and every descendant of `leader`, wherever its
/// group.
pub(super) fn of_group(leader: i32) -> Vec<Member> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut children: BTreeMap<i32, Vec<Member>> = BTreeMap::new();
    let mut found: BTreeMap<i32, Member> = BTreeMap::new();
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let Some((pid, state, ppid, group, start)) = read_stat(pid) else {
            continue;
        };
        if state == 'Z' {
            continue;
        }
        let member = Member { pid, start, group };
        if group == leader || pid == leader {
            found.insert(pid, member);
        }
        children.entry(ppid).or_default().push(member);
    }
    let mut queue: Vec<i32> = found.keys().copied().collect();
    while let Some(pid) = queue.pop() {
        for child in children.get(&pid).into_iter().flatten() {
            if found.insert(child.pid, *child).is_none() {
                queue.push(child.pid);
            }
        }
    }
    found.into_values().collect()
}

/// Whether `member` still runs (not gone, not a zombie, not a reused pid).
pub(super) fn alive(member: &Member) -> bool {
    read_stat(member.pid)
        .is_some_and(|(_, state, _, _, start)| state != 'Z' && start == member.start)
}

/// Sends SIGKILL to each member outside group `leader` that still runs (the group itself is
/// killed with `killpg`).
pub(super) fn kill_strays(members: &[Member], leader: i32) {
    for m in members.iter().filter(|m| m.group != leader && alive(m)) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(m.pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_with_spaces_and_parentheses_in_the_name_is_read() {
        let stat = "4242 (node (worker) x) S 4200 4100 4100 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 11 0 98765 1 2";
        assert_eq!(parse_stat(stat), Some((4242, 'S', 4200, 4100, 98765)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn a_detached_descendant_is_a_member_and_is_stopped_by_pid() {
        use std::os::unix::process::CommandExt;
        use std::process::Command;
        // A leader in a group of its own whose child starts a session of its own.
        let mut leader = Command::new("sh")
            .args(["-c", "setsid sleep 30 & wait"])
            .process_group(0)
            .spawn()
            .expect("spawn sh");
        let leader_pid = leader.id() as i32;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let members = loop {
            let members = of_group(leader_pid);
            if members.iter().any(|m| m.group != leader_pid) || std::time::Instant::now() > deadline
            {
                break members;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        let strays: Vec<Member> = members
            .iter()
            .filter(|m| m.group != leader_pid)
            .copied()
            .collect();
        assert_eq!(strays.len(), 1, "the setsid child is found: {members:?}");
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(leader_pid),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = leader.wait();
        assert!(alive(&strays[0]), "killpg does not reach it");
        kill_strays(&members, leader_pid);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while alive(&strays[0]) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(!alive(&strays[0]), "stopped by pid");
    }
}
