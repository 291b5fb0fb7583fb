"""pairs/build_dts.py: which /** */ comments of a declaration file become (query, code) pairs, and what the code
side holds."""
import os

from lens_train.pairs.build_dts import declaration, file_pairs

DTS = '''/**
 * Returns the {@link Vector3} that lies halfway between two points, in world space.
 * @param a first point
 */
export declare function midpoint(a: Vector3, b: Vector3): Vector3;
/** The camera that owns this list of meshes. */
camera: Camera;
/**
 * Manages a pool of reusable render targets for post processes.
 */
export declare class RenderTargetPool {
    /** The number of targets that are free right now. */
    get freeCount(): number;
    /**
     * Takes a target of the given size out of the pool, creating one when none is free.
     */
    acquire(width: number, height: number, options?: {
        samples: number;
    }): RenderTarget;
}
/** Short. */
export type Short = number;
/** Removes every listener that was added for the given event name. */
if (x) { y(); }
'''


def test_pairs_of_functions_methods_and_classes_only():
    pairs = dict(file_pairs(DTS))
    assert set(pairs) == {
        "Returns the Vector3 that lies halfway between two points, in world space.",
        "Manages a pool of reusable render targets for post processes.",
        "The number of targets that are free right now.",
        "Takes a target of the given size out of the pool, creating one when none is free.",
    }   # the property, the too-short sentence and the statement after a comment are not pairs
    assert pairs["Returns the Vector3 that lies halfway between two points, in world space."] == \
        "export declare function midpoint(a: Vector3, b: Vector3): Vector3;"


def test_code_side_runs_to_the_end_of_the_statement_without_inner_docs():
    pairs = dict(file_pairs(DTS))
    cls = pairs["Manages a pool of reusable render targets for post processes."]
    assert cls.startswith("export declare class RenderTargetPool {") and cls.endswith("}")
    assert "/**" not in cls and "acquire(width: number" in cls
    method = pairs["Takes a target of the given size out of the pool, creating one when none is free."]
    assert method.strip().startswith("acquire(") and method.rstrip().endswith("}): RenderTarget;")


def test_declaration_is_capped():
    lines = ["interface Big {"] + [f"    m{i}(): void;" for i in range(100)] + ["}"]
    assert len(declaration(lines, 0).split("\n")) == 30
