//! Known answers from RFC 6962's reference implementation (the
//! certificate-transparency test vectors, as kept in
//! transparency-dev/merkle `testonly/constants.go` and
//! `proof/verify_test.go`), and property tests over random trees.

use super::*;
use crate::testrng::Rng;
use base64::Engine as _;

fn hx(s: &str) -> Hash {
    hex::decode(s).unwrap().try_into().unwrap()
}

/// The eight leaf inputs of the CT test vectors.
fn ct_leaves() -> Vec<Hash> {
    [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
    .iter()
    .map(|h| leaf_hash(&hex::decode(h).unwrap()))
    .collect()
}

/// MTH of the first n leaves, n = 0..=8.
const CT_ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

#[test]
fn rfc6962_hasher_vectors() {
    assert_eq!(EMPTY_ROOT, hx(CT_ROOTS[0]));
    assert_eq!(
        leaf_hash(b"L123456"),
        hx("395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56")
    );
    // HashChildren("N123", "N456"): the node hash over raw bytes.
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(b"N123");
    h.update(b"N456");
    let node: Hash = h.finalize().into();
    assert_eq!(
        node,
        hx("aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb")
    );
}

#[test]
fn roots_match_the_ct_vectors_from_scratch_and_incrementally() {
    let leaves = ct_leaves();
    let mut frontier = Frontier::new();
    assert_eq!(frontier.root(), hx(CT_ROOTS[0]));
    for n in 1..=8 {
        frontier.push(leaves[n - 1]);
        assert_eq!(root(&leaves[..n]), hx(CT_ROOTS[n]), "MTH of {n}");
        assert_eq!(frontier.root(), hx(CT_ROOTS[n]), "frontier of {n}");
        assert_eq!(frontier.nodes().len(), n.count_ones() as usize);
    }
}

/// transparency-dev/merkle compact/range_test.go `TestGetRootHashGolden`:
/// leaf i is the two bytes of i, little-endian.
#[test]
fn larger_golden_roots() {
    let b64 = |s: &str| -> Hash {
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .unwrap()
            .try_into()
            .unwrap()
    };
    let golden = [
        (10, "VjWMPSYNtCuCNlF/RLnQy6HcwSk6CIipfxm+hettA+4="),
        (15, "j4SulYmocFuxdeyp12xXCIgK6PekBcxzAIj4zbQzNEI="),
        (16, "c+4Uc6BCMOZf/v3NZK1kqTUJe+bBoFtOhP+P3SayKRE="),
        (100, "dUh9hYH88p0CMoHkdr1wC2szbhcLAXOejWpINIooKUY="),
        (255, "SmdsuKUqiod3RX2jyF2M6JnbdE4QuTwwipfAowI4/i0="),
    ];
    let leaves: Vec<Hash> = (0..255u16).map(|i| leaf_hash(&i.to_le_bytes())).collect();
    let mut frontier = Frontier::new();
    for (i, &leaf) in leaves.iter().enumerate() {
        frontier.push(leaf);
        if let Some((_, want)) = golden.iter().find(|(n, _)| *n == i + 1) {
            assert_eq!(frontier.root(), b64(want), "size {}", i + 1);
            assert_eq!(root(&leaves[..=i]), b64(want), "size {}", i + 1);
        }
    }
}

#[test]
fn inclusion_proofs_match_the_ct_vectors() {
    let leaves = ct_leaves();
    let cases: &[(usize, usize, &[&str])] = &[
        (0, 1, &[]),
        (
            0,
            2,
            &["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"],
        ),
        (
            1,
            2,
            &["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"],
        ),
        (
            2,
            3,
            &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
        ),
        (
            1,
            5,
            &[
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
        (
            0,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            5,
            8,
            &[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
    ];
    for &(index, size, want) in cases {
        let proof = inclusion_proof(&leaves[..size], index);
        let want: Vec<Hash> = want.iter().map(|h| hx(h)).collect();
        assert_eq!(proof, want, "leaf {index} of {size}");
        let r = hx(CT_ROOTS[size]);
        assert!(verify_inclusion(
            index as u64,
            size as u64,
            &leaves[index],
            &proof,
            &r
        ));
    }
}

#[test]
fn consistency_proofs_match_the_ct_vectors() {
    let leaves = ct_leaves();
    let cases: &[(usize, usize, &[&str])] = &[
        (1, 1, &[]),
        (
            1,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            8,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            5,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];
    for &(old, new, want) in cases {
        let proof = consistency_proof(&leaves[..new], old);
        let want: Vec<Hash> = want.iter().map(|h| hx(h)).collect();
        assert_eq!(proof, want, "{old} -> {new}");
        assert!(verify_consistency(
            old as u64,
            new as u64,
            &hx(CT_ROOTS[old]),
            &hx(CT_ROOTS[new]),
            &proof
        ));
    }
}

fn random_leaves(rng: &mut Rng, n: usize) -> Vec<Hash> {
    (0..n)
        .map(|_| leaf_hash(&rng.next().to_le_bytes()))
        .collect()
}

/// For random sizes, every leaf's proof verifies against the incremental
/// root, and fails for a wrong leaf, a wrong index, a wrong size, a wrong
/// root or a tampered path.
#[test]
fn property_inclusion_for_every_leaf_of_random_trees() {
    let mut rng = Rng::new(6962);
    for case in 0..60 {
        let n = if case < 20 {
            case + 1
        } else {
            rng.range(1, 300) as usize
        };
        let leaves = random_leaves(&mut rng, n);
        let mut frontier = Frontier::new();
        leaves.iter().for_each(|&l| frontier.push(l));
        let r = frontier.root();
        assert_eq!(r, root(&leaves), "size {n}");
        for i in 0..n {
            let proof = inclusion_proof(&leaves, i);
            let (i64_, n64) = (i as u64, n as u64);
            assert!(
                verify_inclusion(i64_, n64, &leaves[i], &proof, &r),
                "{i} of {n}"
            );
            let wrong = leaf_hash(b"not a record");
            assert!(
                !verify_inclusion(i64_, n64, &wrong, &proof, &r),
                "wrong leaf {i}/{n}"
            );
            assert!(!verify_inclusion(
                i64_,
                n64,
                &leaves[i],
                &proof,
                &leaf_hash(b"x")
            ));
            if n > 1 {
                let other = (i + 1) % n;
                assert!(
                    !verify_inclusion(other as u64, n64, &leaves[i], &proof, &r)
                        || leaves[other] == leaves[i]
                );
                let mut bent = proof.clone();
                let j = rng.below(bent.len() as u64) as usize;
                bent[j][0] ^= 8;
                assert!(!verify_inclusion(i64_, n64, &leaves[i], &bent, &r));
                let mut longer = proof.clone();
                longer.push(r);
                assert!(!verify_inclusion(i64_, n64, &leaves[i], &longer, &r));
                assert!(!verify_inclusion(i64_, n64, &leaves[i], &proof[1..], &r));
            }
        }
    }
}

/// Consistency between random sizes verifies, and fails once any leaf of
/// the old tree is changed (history rewritten) or the sizes are wrong.
#[test]
fn property_consistency_between_random_sizes() {
    let mut rng = Rng::new(9162);
    for _ in 0..400 {
        let n = rng.range(1, 200) as usize;
        let m = rng.range(1, n as u64) as usize;
        let leaves = random_leaves(&mut rng, n);
        let (old_root, new_root) = (root(&leaves[..m]), root(&leaves));
        let proof = consistency_proof(&leaves, m);
        let (m64, n64) = (m as u64, n as u64);
        assert!(
            verify_consistency(m64, n64, &old_root, &new_root, &proof),
            "{m} -> {n}"
        );

        // History changed: one leaf of the old tree is different in the new.
        let mut rewritten = leaves.clone();
        let j = rng.below(m as u64) as usize;
        rewritten[j] = leaf_hash(b"rewritten");
        let forged_root = root(&rewritten);
        let forged = consistency_proof(&rewritten, m);
        assert!(
            !verify_consistency(m64, n64, &old_root, &forged_root, &forged),
            "{m} -> {n} rewritten at {j}"
        );
        assert!(!verify_consistency(
            m64,
            n64,
            &old_root,
            &forged_root,
            &proof
        ));
        if m < n {
            assert!(!verify_consistency(n64, m64, &new_root, &old_root, &proof));
            let mut bent = proof.clone();
            let k = rng.below(bent.len() as u64) as usize;
            bent[k][31] ^= 1;
            assert!(!verify_consistency(m64, n64, &old_root, &new_root, &bent));
        }
    }
}

#[test]
fn frontier_parts_round_trip() {
    let mut rng = Rng::new(3);
    let mut f = Frontier::new();
    for _ in 0..77 {
        f.push(leaf_hash(&rng.next().to_be_bytes()));
    }
    let again = Frontier::from_parts(f.size(), f.nodes().to_vec()).unwrap();
    assert_eq!(again, f);
    assert!(Frontier::from_parts(f.size(), f.nodes()[1..].to_vec()).is_none());
}
