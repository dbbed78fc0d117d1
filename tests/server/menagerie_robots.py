"""The Menagerie robot folders the two asset wheels ship (docs/ARCHITECTURE.md, "Robot assets offline")."""

MENAGERIE_ROBOTS = frozenset(
    {
        "unitree_go1",
        "boston_dynamics_spot",
        "google_barkour_vb",
        "franka_emika_panda",
        "aloha",
        "leap_hand",
        "robotiq_2f85_v4",
        "tetheria_aero_hand_open",
        "unitree_g1",
        "unitree_h1",
        "berkeley_humanoid",
        "booster_t1",
        "robotis_op3",
        "apptronik_apollo",
    }
)
