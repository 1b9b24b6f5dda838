scalars:
  test.nop:
    - bools: [yes, no, on, off, true, False, y, n, Yes, NO]
    - octal: [0644, 0o644, '0644', 0755, 08]
    - ints: [1_000, 0x1F, -0, +5, 010]
    - floats: [1.0, 1e3, 1.5e3, .5, 1_0.5, 6.02E+23]
    - sexagesimal: [10:20, 1:30:00, '10:20']
    - dates: [2024-01-15, 2024-01-15 10:20:30, 2024-01-15T10:20:30Z]
    - nulls: [~, null, Null, '']
    - strings: [a: b, 'quoted', "dq\tx", plain text, '123', 1.2.3, 0.1.0]
    - multiline_literal: |
        line1
          line2
    - multiline_folded: >
        folded
        text

        para
    - keep: |+
        kept

    - strip: |-
        stripped
    - unicode: "\u00fc caf\xe9"
    - empty_map: {}
    - empty_list: []
    - anchors: &anch {k: v}
    - alias: *anch
    - merge_key:
        <<: *anch
        extra: 1
